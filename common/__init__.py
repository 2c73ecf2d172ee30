"""Code shared by the core and web services: configuration, the Redis contract, MySQL access."""
