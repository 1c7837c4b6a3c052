"""The HTML routes: the catalog (``/``) and one page per particle."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from sora_core.text import canonical_dist_name
from sora_registry.errors import BadRequestError, NotFoundError
from sora_registry.pages import catalog_page, particle_page
from sora_registry.search import SearchQuery
from sora_registry.service import RegistryService


async def catalog(request: Request) -> HTMLResponse:
    service: RegistryService = request.app.state.service
    root = str(request.scope.get("root_path", "")).rstrip("/")
    index_url = service.settings.index_url
    kinds, counts = await run_in_threadpool(lambda: (service.catalog.kinds(), service.catalog.counts()))
    try:
        query = SearchQuery.from_params(request.query_params)
    except BadRequestError as exc:
        error = f"{exc.message}. {exc.hint or ''}"
        html_text = catalog_page(SearchQuery(), None, kinds, counts, root=root, error=error, index_url=index_url)
        return HTMLResponse(html_text, status_code=400)
    result = await run_in_threadpool(service.catalog.search, query)
    return HTMLResponse(catalog_page(query, result, kinds, counts, root=root, index_url=index_url))


async def particle(request: Request) -> HTMLResponse:
    service: RegistryService = request.app.state.service
    distribution = canonical_dist_name(request.path_params["distribution"])
    name = request.path_params["name"]
    detail = await run_in_threadpool(service.catalog.particle, distribution, name)
    if detail is None:
        raise NotFoundError(f"no particle {distribution}:{name} in this registry", "search the catalog for it")
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return HTMLResponse(particle_page(detail, index_url=service.settings.index_url, root=root))
