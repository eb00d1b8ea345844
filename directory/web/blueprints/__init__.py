"""One blueprint per area of the site: search, activity, provider (+ sign-in), feeds, embed,
the public API and the providers' API. Blueprints never import one another."""
