"""Estate's staff portal: the web front end over the register, procurement and notifications APIs.

Server-rendered with the GOV.UK Design System; it owns nothing durable. A signed-in person's session
(an encrypted cookie) carries their access token, and every page calls the services' APIs with it, so
each API decides what that person may see and do, exactly as it would for any other client.
"""
