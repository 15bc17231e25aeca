# Gunicorn's spelling of the worker class in a config file.
worker_class = "tornado"
workers = 1
