// How nodes look: size from PageRank, colour by community or kind, rings for flags.

import type { ColorBy, NodeInfo } from "./types";

export const ORPHAN = "#ff4d4f";
export const SINGLE_SOURCE = "#ffc53d";
export const EDGE = "#4a4a4a";
export const EDGE_ACTIVE = "#a88bfa";
// A hub's hundreds of links, when it is selected: present but quiet, so its neighbours'
// own colours still read (a flood of EDGE_ACTIVE would paint the view one colour).
export const EDGE_ACTIVE_FADED = "#4d4566";
export const DIMMED = "#343434";

// Distinct on a dark background, and kept clear of the ring colours (red, amber).
export const PALETTE = [
  "#4e9bf5", "#59c26b", "#a77bd8", "#4fc1c1", "#f07fb0", "#b08b6e",
  "#9cc9f5", "#b5d86a", "#d2b4f5", "#8aa0b8", "#a3a35a", "#6f7fe0",
];
const OTHER = "#7a7a7a";

export const KIND_COLORS: Record<string, string> = {
  concept: "#4e9bf5",
  system: "#59c26b",
  source: "#8aa0b8",
  person: "#a77bd8",
  index: "#e8e8e8",
};
export const TYPE_COLORS: Record<string, string> = {
  unresolved: "#5a5a5a",
  attachment: "#76b7b2",
  tag: "#d4a6c8",
};

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function kindColor(kind: string | null | undefined): string {
  if (!kind) return OTHER;
  if (KIND_COLORS[kind]) return KIND_COLORS[kind];
  return PALETTE[hash(kind) % PALETTE.length];
}

// A community's colour is a function of its id alone, so it is the same in the global
// view, every local view and the legend. The server numbers communities by size over
// the whole vault (0 = the largest), so the largest ones get the palette in order and
// the long tail shares one grey.
export function communityColor(community: number | null | undefined): string {
  if (community === null || community === undefined) return OTHER;
  return community < PALETTE.length ? PALETTE[community] : OTHER;
}

export function nodeColor(node: NodeInfo, colorBy: ColorBy): string {
  if (node.type !== "page") return TYPE_COLORS[node.type] || OTHER;
  if (colorBy === "kind") return kindColor(node.kind);
  if (node.community === null || node.community === undefined) return kindColor(node.kind);
  return communityColor(node.community);
}

export function nodeSize(node: NodeInfo, maxRank: number, order: number): number {
  const base = order > 3000 ? 1.5 : 3;
  const span = order > 3000 ? 10 : 15;
  if (node.type !== "page") return base * 0.8;
  if (node.pagerank !== null && node.pagerank !== undefined && maxRank > 0) {
    return base + span * Math.sqrt(node.pagerank / maxRank);
  }
  return base + Math.min(span, Math.sqrt(node.in_degree || 0) * 2);
}

// A position for a node with no neighbours placed yet: its community's sector of a
// circle, so the force layout starts from clusters rather than noise.
export function seedPosition(id: string, community: number | null, radius: number): { x: number; y: number } {
  const h = hash(id);
  const c = community === null || community === undefined ? hash(String(id)) % 97 : community;
  const angle = ((c * 137.508) % 360) * (Math.PI / 180);
  const jitterA = ((h % 1000) / 1000) * Math.PI * 2;
  const jitterR = (((h >>> 10) % 1000) / 1000) * radius * 0.35;
  return {
    x: Math.cos(angle) * radius * 0.6 + Math.cos(jitterA) * jitterR,
    y: Math.sin(angle) * radius * 0.6 + Math.sin(jitterA) * jitterR,
  };
}
