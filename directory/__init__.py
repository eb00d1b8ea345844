"""The CME directory. One layer per package, each importing only the layers below it:

registry (models, rules, reference data) <- search (the one request/result model)
<- indexer (top-level package) and provider_data <- web <- cli.

This file imports nothing, so importing the registry never loads the web layer.
The WSGI application is `directory.web:create_app()`.
"""
