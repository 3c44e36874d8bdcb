"""Portal pages by area: sign-in, home (dashboard, projects), jobs, admin (organization, center), slots."""
