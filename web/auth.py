"""Who is asking: agent login with hashed passwords, a session cookie, and the checks on it."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_socketio import SocketIO
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from callyard.models import Agent
from callyard.services import Services

from .push import disconnect_agent

log = logging.getLogger(__name__)


class AgentUser(UserMixin):
    """The logged-in agent as Flask-Login sees them: just the id, the rest is read fresh."""

    def __init__(self, agent: Agent) -> None:
        # What the session stores: the agent and their session epoch, so a logout (which
        # raises the epoch) ends this session and every copy of its cookie.
        self.id = f"{agent.id}:{agent.session_epoch}"
        self.agent_id = agent.id
        self.role = agent.role
        self.name = agent.name


class LoginForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    pass


def current_agent() -> Agent | None:
    """The logged-in agent, re-read from the store so a disabled account stops working at once."""
    if not current_user.is_authenticated:
        return None
    agent = Agent.get_or_none(Agent.id == current_user.agent_id)
    return agent if agent is not None and agent.enabled else None


def init(app: Flask, svc: Services, socketio: SocketIO) -> None:
    manager = LoginManager(app)
    manager.login_view = "login"
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> AgentUser | None:
        agent_id, _, epoch = user_id.partition(":")
        if not agent_id.isdigit() or not epoch.isdigit():
            return None
        agent = Agent.get_or_none(Agent.id == int(agent_id))
        if agent is None or not agent.enabled or agent.session_epoch != int(epoch):
            return None
        return AgentUser(agent)

    @app.route("/login", methods=["GET", "POST"])
    def login():  # noqa: ANN202
        form = LoginForm()
        if form.validate_on_submit():
            agent = svc.agents.authenticate(form.login.data, form.password.data)
            if agent is not None:
                login_user(AgentUser(agent))
                log.info("agent %s logged in", agent.login)
                return redirect(_safe_next(request.args.get("next")) or url_for("inbox"))
            log.info("failed login for %r", form.login.data)
            flash("Wrong login or password.", "error")
            return render_template("login.html", form=form), 401
        if request.method == "POST":
            return render_template("login.html", form=form), 400
        return render_template("login.html", form=form)

    @app.post("/logout")
    @login_required
    def logout():  # noqa: ANN202
        form = LogoutForm()
        if form.validate_on_submit():
            agent_id = current_user.agent_id
            logout_user()
            # Nobody is there any more: no new offers, and pending ones go to someone else.
            svc.agents.set_presence(agent_id, "offline")
            svc.agents.end_sessions(agent_id)
            # Sockets keep the session they connected with; end them too.
            disconnect_agent(socketio, agent_id)
        return redirect(url_for("login"))


def _safe_next(target: str | None) -> str | None:
    """Only follow a `next` that stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
