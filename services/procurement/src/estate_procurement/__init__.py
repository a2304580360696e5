"""Estate procurement service: technology requests and the TDA's review, decision and conditions."""
