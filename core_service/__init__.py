"""The core service: vnpy MainEngine + gateway (CTP or simulated SHFE) + CtaEngine, recording to Redis and MySQL."""
