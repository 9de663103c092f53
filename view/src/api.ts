// The vaultsync HTTP API, as seen from the page: every call carries the bearer token.
// The answers' types come from the server's OpenAPI document (api-types.ts).

import type { ApiStatus, CompactGraph, Direction, Page, SearchResult } from "./types";

export function findToken(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="vaultsync-token"]');
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
  status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Params = Record<string, string | number | undefined | null>;

// The events of /api/events (vaultsync/server/sse.py) and what each carries.
export interface EventHandlers {
  error?: () => void;
  hello?: (data: { last_id: number; metrics_computed_at: string | null; heavy_computed_at: string | null; live: boolean }) => void;
  live?: (data: { live: boolean }) => void;
  batch?: (data: { id: number; changed: string[]; removed: string[] }) => void;
  metrics?: (data: unknown) => void;
}

export class Api {
  token: string;

  constructor(token: string) {
    this.token = token;
  }

  async get<T>(path: string, params: Params = {}): Promise<T> {
    const url = new URL(path, location.origin);
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      url.searchParams.set(key, String(value));
    }
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
      cache: "no-store",
    });
    let body: unknown = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = body && typeof body === "object" && "error" in body ? String(body.error) : "";
      throw new ApiError(response.status, error || response.statusText);
    }
    return body as T;
  }

  // The compact form: columns of node fields and a flat link array (see the API docs).
  graph(params: { include?: string; limit?: number }): Promise<CompactGraph> {
    return this.get("/api/graph", { ...params, format: "compact" });
  }

  local(path: string, depth: number, direction: Direction, include: string): Promise<CompactGraph> {
    return this.get("/api/graph/local", { path, depth, direction, include, format: "compact" });
  }

  page(path: string): Promise<Page> {
    return this.get(`/api/pages/${path.split("/").map(encodeURIComponent).join("/")}`);
  }

  search(q: string, limit = 12): Promise<SearchResult> {
    return this.get("/api/search", { q, limit });
  }

  status(): Promise<ApiStatus> {
    return this.get("/api/status");
  }

  events(handlers: EventHandlers): EventSource {
    const source = new EventSource(`/api/events?token=${encodeURIComponent(this.token)}`);
    for (const [name, handler] of Object.entries(handlers) as [string, (data?: unknown) => void][]) {
      if (name === "open" || name === "error") source.addEventListener(name, () => handler());
      else source.addEventListener(name, (e) => handler(JSON.parse((e as MessageEvent<string>).data)));
    }
    return source;
  }
}
