"""The baseline for the form page: Flask's hello world (run by bench/web.py under the
same gunicorn.conf.py as the widget)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
