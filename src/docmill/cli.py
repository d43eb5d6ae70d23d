"""The `docmill` command line."""

from __future__ import annotations

import asyncio
import logging

import typer

from docmill.bench_cli import bench_app
from docmill.config import Settings
from docmill.convert_cli import convert_app
from docmill.devtools.cli import dev

app = typer.Typer(
    help="docmill: PDFs and images to Markdown, blocks and images.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(bench_app, name="bench")
app.add_typer(dev, name="dev")
app.add_typer(convert_app)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    log_level: str = typer.Option("info", help="Log level."),
) -> None:
    """Start the HTTP service (upgrades the database schema first)."""
    import uvicorn

    from docmill.api.app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(Settings()),
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


@app.command()
def mcp(
    server: str | None = typer.Option(None, help="docmill server (default DOCMILL_SERVER_URL)."),
    api_key: str | None = typer.Option(
        None, help="Your API key (default DOCMILL_API_KEY; prefer the variable)."
    ),
) -> None:
    """Serve MCP on stdin/stdout for an MCP host, using a running docmill server."""
    from docmill.mcp_server import run_stdio

    settings = Settings()
    key = api_key or settings.api_key
    if not key:
        typer.echo("Set DOCMILL_API_KEY (or --api-key) to an API key of yours.", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level="WARNING")  # on stderr: stdout carries the protocol
    asyncio.run(
        run_stdio(server or settings.server_url, key, max_inline_mb=settings.mcp_max_inline_mb)
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Upgrade the database schema (Alembic)."""
    from docmill.store import migrate

    settings = Settings()
    settings.prepare_dirs()
    migrate.upgrade(settings.resolved_database_url, revision)
    typer.echo(f"Database at revision {revision}.")


@user_app.command("create")
def user_create(
    name: str = typer.Argument(..., help="Username (3–50 characters)."),
    email: str = typer.Option(..., prompt=True, help="Email address."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Password (8–128)."
    ),
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from docmill.api.routes.auth import RegisterBody, create_user
    from docmill.errors import DocmillError
    from docmill.services import Services

    try:
        body = RegisterBody(username=name, email=email, password=password)
    except ValidationError as exc:
        typer.echo(f"Invalid input: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from exc

    async def create() -> int:
        services = await Services.start(Settings(), run_jobs=False)
        try:
            user = await create_user(
                services, body.username, str(body.email).lower(), body.password
            )
            return user.id
        finally:
            await services.close()

    try:
        user_id = asyncio.run(create())
    except DocmillError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created user {name} (id {user_id}).")


if __name__ == "__main__":
    app()
