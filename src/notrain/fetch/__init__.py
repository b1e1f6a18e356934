"""The one HTTP client of notrain: discovery, caching and the fail-closed rules."""
