"""Command-line commands of the web room: ``serve``, ``user`` and ``portal``."""

from __future__ import annotations

import sys
from typing import Any

import click

from tracework.cli.common import Group, echo_json, project_of, table

__all__ = ["COMMANDS", "serve", "user", "portal"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Other hosts must also be in [web] allowed_hosts.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--get", "get_path", metavar="PATH",
              help="Render one page (e.g. /queue or /queue.json) to standard output and exit; "
                   "no server is started.")
@click.option("--as", "as_user", metavar="USER",
              help="With --get: see the page as this staff user (no password: whoever runs "
                   "this can read the project's files anyway).")
@click.option("--link", "link_token", metavar="TOKEN",
              help="With --get: see the page as the worker whose private-link token this is.")
@click.option("--json", "as_json", is_flag=True, help="With --get: ask for the JSON twin.")
@click.option("--public-url", metavar="URL", default=None,
              help="Where users reach the app, e.g. https://review.example.org behind an "
                   "https reverse proxy: forms are accepted from that origin, cookies are "
                   "Secure when it is https, and its host is allowed. Default: [web] "
                   "public_url or the public_url setting (TRACEWORK_PUBLIC_URL).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="Believe X-Forwarded-Proto, -Host and -For from this proxy address or "
                   "network (repeatable; default: [web] trusted_proxies, none). Needed for "
                   "the sign-in limits to count each client apart behind a proxy.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, get_path: str | None, as_user: str | None,
          link_token: str | None, as_json: bool, public_url: str | None,
          trusted_proxies: tuple[str, ...]) -> None:
    """Serve the project in a browser: review queue, dataset browser, fieldnotes, log, and a
    private portal for each worker.

    Staff sign in with accounts made by `tracework user add`; workers open the private link
    made by `tracework portal link`. Listens on 127.0.0.1 unless told otherwise.

    To serve a team, put it behind an https reverse proxy (nginx, Caddy) and give the address
    users type as --public-url (or [web] public_url in tracework.toml): the app itself is
    asked over plain http by the proxy, and without it every form post would be refused as
    coming from another origin. Have the proxy pass the Host header (nginx:
    `proxy_set_header Host $host;`), or pass X-Forwarded-Proto/-Host/-For and name the
    proxy with --trusted-proxy so each client's own address counts for the sign-in limits.

    \b
    nginx, in the server block of https://review.example.org:
      location / {
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      }

    Guessing is slowed down, each kind apart: after 5 failed sign-ins to one account each
    further attempt waits (1 s, doubling, at most a minute; a success forgets them); 30
    failures from one address refuse it for 15 minutes; 10 unknown portal links from one
    address refuse it for 5 minutes.

    \b
    Examples:
      tracework serve --port 8000
      tracework serve --host 0.0.0.0    # and name the server in [web] allowed_hosts
      tracework serve --public-url https://review.example.org --trusted-proxy 127.0.0.1
      tracework serve --get /queue.json --as alice
      tracework serve --get /dataset --as alice > dataset.html
      tracework serve --get /w/ --link TOKEN        # a worker's page, from their link
    """
    project = project_of(ctx)
    if get_path is not None:
        from tracework.web import get_page

        result = get_page(project, get_path, as_user=as_user, link_token=link_token,
                          want_json=as_json)
        sys.stdout.buffer.write(result.body)
        sys.stdout.flush()
        if result.status >= 400:
            ctx.exit(1)
        return
    if as_user or link_token or as_json:
        raise click.UsageError("--as, --link and --json go with --get")
    override: dict[str, Any] = {}
    if public_url is not None:
        override["public_url"] = public_url
    if trusted_proxies:
        override["trusted_proxies"] = trusted_proxies
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException("serving needs uvicorn: pip install 'tracework[web]'") from None
    from tracework.web import create_app

    app = create_app(project, **override)
    public = app.state.web.config.public_url
    click.echo(f"Serving {project.name} on http://{host}:{port}/"
               f"{f' for {public}/' if public else ''} (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                proxy_headers=False)


@click.group("user", cls=Group)
def user() -> None:
    """Staff accounts of the web app (owner, reviewer, auditor). Workers have no account:
    they use the private link of `tracework portal link`.

    \b
    Examples:
      tracework user add alice --role reviewer
      tracework user list
      tracework user disable alice
    """


@user.command("add", short_help="Create a staff account; asks for its password.")
@click.argument("name")
@click.option("--role", type=click.Choice(["owner", "reviewer", "auditor"]), required=True,
              help="owner: everything; reviewer: decides and writes notes; auditor: reads only.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (for scripts) instead of a prompt.")
@click.pass_context
def user_add_cmd(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create a staff account NAME; asks for its password (never given as an argument, where
    it would land in the shell history).

    \b
    Examples:
      tracework user add alice --role reviewer
      printf '%s\\n' "$PASSWORD" | tracework user add ci-bot --role auditor --password-stdin
    """
    from tracework.web.users import user_add

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    project = project_of(ctx)
    project.store.migrate()
    created = user_add(project, name, role, password)
    click.echo(f"Created {created.role} {created.name}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def user_list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the staff accounts.

    \b
    Example:
      tracework user list
    """
    from tracework.web.users import user_list

    project = project_of(ctx)
    project.store.migrate()
    found = user_list(project)
    if as_json:
        echo_json([u.as_dict() for u in found])
        return
    table([(u.name, f"{u.role}{' (disabled)' if u.disabled else ''}") for u in found])


@user.command("disable")
@click.argument("name")
@click.pass_context
def user_disable_cmd(ctx: click.Context, name: str) -> None:
    """Disable the account NAME and end its sessions.

    \b
    Example:
      tracework user disable alice
    """
    from tracework.web.users import user_disable

    project = project_of(ctx)
    project.store.migrate()
    user_disable(project, name)
    click.echo(f"Disabled {name}; its sessions are ended")


@click.group("portal", cls=Group)
def portal() -> None:
    """Workers' private links to their own page (their work, decisions and reasons, pay,
    receipts, consent). Only a hash of each link is stored.

    \b
    Examples:
      tracework portal link w_abcdefghijkl --base-url https://review.example.org
      tracework portal list w_abcdefghijkl
      tracework portal revoke w_abcdefghijkl
    """


@portal.command("link", short_help="Issue (or rotate) a private link for a worker.")
@click.argument("worker")
@click.option("--base-url", default=None,
              help="Where the server is reached from the worker's side (default: the "
                   "public_url setting, else http://127.0.0.1:8000).")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Days until the link stops working (default: [web] portal_link_days, 90).")
@click.option("--rotate", is_flag=True,
              help="Revoke the worker's earlier links (and end their sessions) as this one "
                   "is issued: the old link stops working.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def portal_link_cmd(ctx: click.Context, worker: str, base_url: str | None,
                    expires_days: int | None, rotate: bool, as_json: bool) -> None:
    """Issue a private link for WORKER (a pseudonym, w_…). The link is shown once: only its
    hash is stored. Send it to the worker, e.g. with a platform message. Links expire after
    [web] portal_link_days (90 by default); issue a new one with --rotate before then, or
    when a link may have leaked.

    \b
    Examples:
      tracework portal link w_abcdefghijkl --base-url https://review.example.org
      tracework portal link w_abcdefghijkl --expires-days 30 --json
      tracework portal link w_abcdefghijkl --rotate     # the old link stops working
    """
    from tracework.web.core import public_origin, public_url_of
    from tracework.web.users import portal_link

    project = project_of(ctx)
    project.store.migrate()
    base = base_url or public_url_of(project) or "http://127.0.0.1:8000"
    if not base_url:
        base = public_origin(base)
    token, link = portal_link(project, worker, expires_days=expires_days, rotate=rotate)
    url = f"{base.rstrip('/')}/p/{token}"
    if as_json:
        echo_json({"worker": link.worker, "url": url, "link": link.id,
                    "expires_at": link.expires_at, "rotated": rotate})
        return
    click.echo(url)
    click.echo(f"  for {link.worker}, valid until {(link.expires_at or '')[:10]}; shown once"
               f"{'; earlier links revoked' if rotate else ''}. Revoke with `tracework portal "
               f"revoke {link.worker}`", err=True)


@portal.command("revoke", short_help="Revoke a worker's links and end their sessions.")
@click.argument("worker")
@click.pass_context
def portal_revoke_cmd(ctx: click.Context, worker: str) -> None:
    """Revoke every private link of WORKER and end the sessions opened with them.

    \b
    Example:
      tracework portal revoke w_abcdefghijkl
    """
    from tracework.web.users import portal_revoke

    project = project_of(ctx)
    project.store.migrate()
    n = portal_revoke(project, worker)
    click.echo(f"Revoked {n} link{'s' if n != 1 else ''} of {worker}")


@portal.command("list", short_help="List issued links (never their tokens).")
@click.argument("worker", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def portal_list_cmd(ctx: click.Context, worker: str | None, as_json: bool) -> None:
    """List issued links (never their tokens), of one WORKER or of all.

    \b
    Example:
      tracework portal list w_abcdefghijkl
    """
    from tracework.web.users import portal_links_of

    project = project_of(ctx)
    project.store.migrate()
    found = portal_links_of(project, worker)
    if as_json:
        echo_json([link.as_dict() for link in found])
        return
    table([(f"#{link.id} {link.worker}",
             f"{'active' if link.active else 'revoked' if link.revoked_at else 'expired'}, "
             f"issued {link.created_at[:16]} by {link.created_by}") for link in found])


COMMANDS: list[click.Command] = [serve, user, portal]
