// The vaultsync HTTP API, as seen from the page: every call carries the bearer token.

export function findToken() {
  const meta = document.querySelector('meta[name="vaultsync-token"]');
  const injected = meta && meta.content && !meta.content.startsWith("__") ? meta.content : "";
  if (injected) return injected;
  // --allow-remote: the page does not carry the token; take it from #token=… or the form.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("vaultsync-token", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem("vaultsync-token") || "";
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async get(path, params = {}) {
    const url = new URL(path, location.origin);
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      url.searchParams.set(key, String(value));
    }
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
      cache: "no-store",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.error) || response.statusText);
    }
    return body;
  }

  // The compact form: columns of node fields and a flat link array (see the API docs).
  graph(params) {
    return this.get("/api/graph", { ...params, format: "compact" });
  }

  local(path, depth, direction, include) {
    return this.get("/api/graph/local", { path, depth, direction, include, format: "compact" });
  }

  page(path) {
    return this.get(`/api/pages/${path.split("/").map(encodeURIComponent).join("/")}`);
  }

  search(q, limit = 12) {
    return this.get("/api/search", { q, limit });
  }

  events(handlers) {
    const source = new EventSource(`/api/events?token=${encodeURIComponent(this.token)}`);
    for (const [name, handler] of Object.entries(handlers)) {
      if (name === "open" || name === "error") source.addEventListener(name, handler);
      else source.addEventListener(name, (e) => handler(JSON.parse(e.data), e));
    }
    return source;
  }
}
