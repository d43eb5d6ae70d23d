"""Live events of the caller's tasks: `WS /api/ws`, and the same as SSE at `/api/events`."""

from __future__ import annotations

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import StreamingResponse

from docmill.api.deps import resolve_user
from docmill.api.envelope import error_response
from docmill.api.streams import EventSocket, connection_credentials, server_sent_events
from docmill.errors import NotAuthenticated
from docmill.services import Services
from docmill.store.models import User

router = APIRouter(tags=["live"])


async def _caller(services: Services, connection: Request | WebSocket) -> User:
    """The authenticated caller. Raises NotAuthenticated."""
    user = await resolve_user(services, *connection_credentials(connection))
    if user is None:
        raise NotAuthenticated("Send a bearer token or API key (header, ?token= or ?api_key=).")
    return user


@router.websocket("/api/ws")
async def events_socket(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    try:
        user = await _caller(services, websocket)
    except NotAuthenticated as exc:
        # Refused before the handshake completes: the client sees HTTP 401 and the envelope.
        await websocket.send_denial_response(error_response(401, exc.code, exc.message))
        return
    settings = services.settings
    async with services.events.subscribe(user.id, settings.ws_queue_size) as subscription:
        await websocket.accept()
        await EventSocket(
            websocket,
            subscription,
            ping_interval_s=settings.ws_ping_interval_s,
            send_timeout_s=settings.ws_send_timeout_s,
            close_timeout_s=settings.ws_close_timeout_s,
        ).run()


@router.get("/api/events", response_class=StreamingResponse)
async def event_stream(request: Request) -> StreamingResponse:
    services: Services = request.app.state.services
    user = await _caller(services, request)
    settings = services.settings
    stream = server_sent_events(
        services.events,
        user.id,
        maxsize=settings.ws_queue_size,
        ping_interval_s=settings.ws_ping_interval_s,
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
