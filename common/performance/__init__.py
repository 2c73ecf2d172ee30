"""Trading performance shared by the web API and the core's replay command: pure statistics (`stats`),
the ranges on the market clock (`ranges`), the MySQL report (`report`) and row values (`rows`)."""
