"""Who is calling: customers (kefu JWTs minted after a channel login) and staff (Cognito)."""
