"""What a user calls: recommend, next questions, the one-stop plan, batch screening, outreach, impact previews, rule versions and the home-visit worklist."""
