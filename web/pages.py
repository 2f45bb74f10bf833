"""Pages: the agent inbox and the demo shop."""

from __future__ import annotations

from flask import Flask, redirect, render_template, url_for
from flask_login import login_required

from callyard.config import Config

from .auth import LogoutForm, current_agent


def init(app: Flask, config: Config) -> None:
    @app.get("/")
    def index():  # noqa: ANN202
        if config.server.demo_page:
            return render_template("demo.html")
        return redirect(url_for("inbox"))

    @app.get("/inbox")
    @login_required
    def inbox():  # noqa: ANN202
        agent = current_agent()
        if agent is None:
            return redirect(url_for("login"))
        return render_template("inbox.html", agent=agent, logout_form=LogoutForm())
