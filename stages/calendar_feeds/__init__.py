"""The pure iCal builder and the token-protected feed views."""
