// The view's own shapes, and the API's (generated from docs/openapi.json into
// api-types.ts by scripts/build_view.sh: a change of the server's shapes fails the type
// check here).

import type Graph from "graphology";

import type { components } from "./api-types";

type Schemas = components["schemas"];
export type CompactGraph = Schemas["CompactGraph"];
export type GraphMeta = Schemas["GraphMeta"];
export type Page = Schemas["Page"];
export type PageMetrics = Schemas["PageMetrics"];
export type SearchResult = Schemas["SearchResult"];
export type ApiStatus = Schemas["ApiStatus"];
export type StatusCounts = Schemas["StatusCounts"];
export type Community = Schemas["Community"];
export type NodeType = CompactGraph["nodes"]["type"][number];

export type Mode = "global" | "local";
export type Direction = "in" | "out" | "both";
export type ColorBy = "community" | "kind";
export type IncludeType = "tags" | "attachments" | "unresolved";

// A node as the view keeps it: the compact columns of one node, flags as booleans. A
// collapsed community ("Collapse communities") is a node of type "community".
export interface NodeInfo {
  id: string;
  type: NodeType | "community";
  title: string;
  kind: string | null;
  pagerank: number | null;
  community: number | null;
  citation_count: number | null;
  in_degree: number | null;
  out_degree: number | null;
  x: number | null;
  y: number | null;
  orphan: boolean;
  isolated: boolean;
  single_source: boolean;
  depth?: number;
  center?: boolean;
}

export interface NodeAttrs {
  x: number;
  y: number;
  label: string;
  size: number;
  color: string;
  type: "ring" | "circle";
  orphanRing: number;
  singleRing: number;
  nodeType: NodeInfo["type"];
  info: NodeInfo;
  fixed?: boolean; // placed by the server: the layout leaves it be
  community?: number; // a collapsed community's id
}

export interface EdgeAttrs {
  weight: number;
  size: number;
  color: string;
  type?: "line" | "thin";
}

export interface GraphAttrs {
  colorBy?: ColorBy;
}

export type ViewGraph = Graph<NodeAttrs, EdgeAttrs, GraphAttrs>;

// What a graph answer becomes: nodes, a flat [source, target, weight, …] array of node
// indexes, and the answer's meta. `derived`: read from the global graph at hand.
export interface GraphData {
  nodes: NodeInfo[];
  links: number[];
  meta: GraphMeta;
  center?: string;
  derived?: boolean;
}

// A community as the picture shows it (clusters.ts).
export interface Centre {
  x: number;
  y: number;
  count: number;
  radius: number;
}

// The global graph kept aside while a local one is shown (Local → Global without a
// round trip).
export interface GlobalCache {
  key: string;
  graph: ViewGraph;
  baseEdges: Set<string> | null;
  data: GraphData;
  stale: boolean;
}

// A label box: [x0, y0, x1, y1] in viewport pixels.
export type Box = [number, number, number, number];
