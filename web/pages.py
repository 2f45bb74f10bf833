"""Pages: the agent inbox and the demo shop."""

from __future__ import annotations

from flask import Flask, redirect, render_template, send_file, url_for
from flask_login import login_required

from callyard.config import Config
from callyard.errors import Unauthorized
from callyard.services import Services

from .auth import LogoutForm, current_agent


def init(app: Flask, config: Config, services: Services | None = None) -> None:
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

    if services is not None and services.attachments is not None:
        store = services.attachments

        @app.get("/attachments/<int:attachment_id>")
        @login_required
        def attachment(attachment_id: int):  # noqa: ANN202
            agent = current_agent()
            if agent is None:
                raise Unauthorized("log in again", error_id="not-logged-in")
            found = services.views.attachment_for(agent, attachment_id)
            # Always a download, never rendered here: a customer's HTML file must not run
            # on our origin.
            response = send_file(
                store.path(found.path),
                mimetype="application/octet-stream",
                as_attachment=True,
                download_name=found.filename,
                max_age=0,
            )
            response.headers["Content-Security-Policy"] = "sandbox"
            return response
