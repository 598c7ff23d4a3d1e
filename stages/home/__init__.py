"""The home page: what each role needs first when they log in."""
