// Node labels, placed by the view rather than by sigma's label grid: the most important
// pages first (by PageRank), only those whose node is drawn big enough at the current
// zoom, never two overlapping, never one running off the canvas or under the legend (a
// label that would cross the right edge goes to the left of its node, else it is left
// out). Drawn on sigma's label layer after each frame.
//
// Zoomed out, the communities' names come first, each at the centre of its cluster,
// larger and in the community's colour, and only the biggest pages get a label besides;
// zooming in, the names give way to the pages' own labels (level of detail).

import type Sigma from "sigma";

import type { Box, EdgeAttrs, GraphAttrs, NodeAttrs } from "./types";

const PAD = 4;
const CELL = 96;

// A community's name, at a point in graph coordinates.
export interface ClusterName {
  x: number;
  y: number;
  text: string;
  color: string;
  size: number;
}

export interface LabelOptions {
  color: string;
  halo: string;
  font: string;
  size: number;
  weight: string;
  threshold: number;
  obstacles: () => Box[];
  // [node, forced]: the nodes to label, most important first
  candidates: () => Iterable<[string, boolean]>;
  // most important first, or [] when the names are not to be shown at this zoom
  clusters?: () => ClusterName[];
}

export class Labels {
  renderer: Sigma<NodeAttrs, EdgeAttrs, GraphAttrs>;
  options: LabelOptions;
  enabled: boolean;
  widths: Map<string, number>;
  drawn: number;
  placed: Box[];
  clusterNames: string[];

  constructor(renderer: Sigma<NodeAttrs, EdgeAttrs, GraphAttrs>, options: LabelOptions) {
    this.renderer = renderer;
    this.options = options;
    this.enabled = true;
    this.widths = new Map();
    this.drawn = 0;
    this.placed = [];
    this.clusterNames = []; // the community names drawn in the last frame
    renderer.on("afterRender", () => this.draw());
  }

  width(ctx: CanvasRenderingContext2D, text: string): number {
    let w = this.widths.get(text);
    if (w === undefined) {
      w = ctx.measureText(text).width;
      if (this.widths.size > 50000) this.widths.clear();
      this.widths.set(text, w);
    }
    return w;
  }

  draw(): void {
    const r = this.renderer;
    const { width, height } = r.getDimensions();
    const ctx = r.getCanvases().labels.getContext("2d");
    if (!ctx) return;
    this.drawn = 0;
    this.placed = []; // [x0, y0, x1, y1] of each label drawn in the last frame
    this.clusterNames = [];
    if (!this.enabled || !r.getGraph().order) return;
    const o = this.options;
    ctx.font = `${o.weight} ${o.size}px ${o.font}`;
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = o.halo;
    ctx.fillStyle = o.color;
    const grid = new Map<number, Box[]>();
    const boxes: Box[] = [];
    const occupy = (box: Box) => {
      boxes.push(box);
      for (let cx = Math.floor(box[0] / CELL); cx <= Math.floor(box[2] / CELL); cx++) {
        for (let cy = Math.floor(box[1] / CELL); cy <= Math.floor(box[3] / CELL); cy++) {
          const key = cx * 100003 + cy;
          const cell = grid.get(key);
          if (cell) cell.push(box);
          else grid.set(key, [box]);
        }
      }
    };
    const free = (box: Box) => {
      for (let cx = Math.floor(box[0] / CELL); cx <= Math.floor(box[2] / CELL); cx++) {
        for (let cy = Math.floor(box[1] / CELL); cy <= Math.floor(box[3] / CELL); cy++) {
          const cell = grid.get(cx * 100003 + cy);
          if (!cell) continue;
          for (const b of cell) {
            if (box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1]) return false;
          }
        }
      }
      return true;
    };
    for (const box of o.obstacles()) occupy(box);
    const clusters = o.clusters ? o.clusters() : [];
    for (const c of clusters) {
      const centre = r.graphToViewport(c);
      ctx.font = `600 ${c.size}px ${o.font}`;
      const w = ctx.measureText(c.text).width;
      // At the centre, else a line above or below it (neighbouring clusters' names).
      let box: Box | null = null;
      let p = { x: 0, y: 0 };
      for (const dy of [0, -1.3, 1.3, -2.6, 2.6]) {
        p = { x: Math.min(Math.max(centre.x, w / 2 + PAD + 3), width - w / 2 - PAD - 3), y: centre.y + dy * c.size };
        const b: Box = [p.x - w / 2 - 3, p.y - c.size / 2 - 2, p.x + w / 2 + 3, p.y + c.size / 2 + 2];
        if (b[0] < PAD || b[2] > width - PAD || b[1] < 0 || b[3] > height) continue;
        if (free(b)) {
          box = b;
          break;
        }
      }
      if (!box) continue;
      occupy(box);
      this.placed.push(box);
      ctx.lineWidth = 4;
      ctx.strokeText(c.text, box[0] + 3, p.y);
      ctx.fillStyle = c.color;
      ctx.fillText(c.text, box[0] + 3, p.y);
      this.clusterNames.push(c.text);
    }
    ctx.font = `${o.weight} ${o.size}px ${o.font}`;
    ctx.lineWidth = 3;
    ctx.fillStyle = o.color;
    // With the names shown, pages need twice the size for a label of their own.
    const threshold = this.clusterNames.length ? o.threshold * 2 : o.threshold;
    const most = Math.max(12, Math.round((width * height) / 30000));
    const half = o.size / 2 + 2;
    let looked = 0;
    for (const [node, forced] of o.candidates()) {
      if (++looked > 4000 || this.drawn >= most) break;
      const data = r.getNodeDisplayData(node);
      if (!data || data.hidden || !data.label) continue;
      const size = r.scaleSize(data.size);
      // Candidates come by PageRank, and node size grows with it: the rest are smaller.
      if (!forced && size < threshold) break;
      const p = r.framedGraphToViewport(data);
      if (p.x < 0 || p.x > width || p.y < half || p.y > height - half) continue;
      const w = this.width(ctx, data.label);
      let x = p.x + size + 4;
      if (x + w > width - PAD) x = p.x - size - 4 - w;
      if (x < PAD) continue;
      const box: Box = [x - 2, p.y - half, x + w + 2, p.y + half];
      if (!free(box)) continue;
      occupy(box);
      this.placed.push(box);
      ctx.strokeText(data.label, x, p.y);
      ctx.fillText(data.label, x, p.y);
      this.drawn += 1;
    }
  }
}
