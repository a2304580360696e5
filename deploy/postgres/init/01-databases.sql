-- One database and one login role per Estate service: services share no tables and no credentials,
-- and talk to each other only through Kafka events and their HTTP APIs (DESIGN.md).
--
-- Run once by the official postgres image, as the superuser, on an EMPTY data volume
-- (/docker-entrypoint-initdb.d). It is NOT re-run on an existing volume: to add a service later,
-- run the same three statements by hand, or `docker compose down -v` on a throwaway stack.
--
-- Passwords come from the container's environment (psql's \getenv, PostgreSQL 15+), set in
-- docker-compose.yml from ESTATE_<SERVICE>_DB_PASSWORD. A missing variable leaves the psql variable
-- unset, the statement fails to parse and, with ON_ERROR_STOP (the image sets it), the container stops
-- with the error instead of creating a role without a password.

\getenv register_password ESTATE_REGISTER_DB_PASSWORD
\getenv procurement_password ESTATE_PROCUREMENT_DB_PASSWORD
\getenv notifications_password ESTATE_NOTIFICATIONS_DB_PASSWORD

-- register: systems, contracts, suppliers, audit history, the estate read model.
CREATE ROLE register LOGIN PASSWORD :'register_password';
CREATE DATABASE register OWNER register ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE register FROM PUBLIC;

-- procurement: technology requests, TDA reviews and decisions.
CREATE ROLE procurement LOGIN PASSWORD :'procurement_password';
CREATE DATABASE procurement OWNER procurement ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE procurement FROM PUBLIC;

-- notifications: renewal watch, alert policy, deliveries, acknowledgements.
CREATE ROLE notifications LOGIN PASSWORD :'notifications_password';
CREATE DATABASE notifications OWNER notifications ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;
