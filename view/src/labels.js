// Node labels, placed by the view rather than by sigma's label grid: the most important
// pages first (by PageRank), only those whose node is drawn big enough at the current
// zoom, never two overlapping, never one running off the canvas or under the legend (a
// label that would cross the right edge goes to the left of its node, else it is left
// out). Drawn on sigma's label layer after each frame.

const PAD = 4;
const CELL = 96;

export class Labels {
  constructor(renderer, options) {
    this.renderer = renderer;
    this.options = options; // { color, halo, font, size, weight, threshold, obstacles(), candidates() }
    this.enabled = true;
    this.widths = new Map();
    this.drawn = 0;
    this.placed = [];
    renderer.on("afterRender", () => this.draw());
  }

  width(ctx, text) {
    let w = this.widths.get(text);
    if (w === undefined) {
      w = ctx.measureText(text).width;
      if (this.widths.size > 50000) this.widths.clear();
      this.widths.set(text, w);
    }
    return w;
  }

  draw() {
    const r = this.renderer;
    const { width, height } = r.getDimensions();
    const ctx = r.getCanvases().labels.getContext("2d");
    this.drawn = 0;
    this.placed = []; // [x0, y0, x1, y1] of each label drawn in the last frame
    if (!this.enabled || !r.getGraph().order) return;
    const o = this.options;
    ctx.font = `${o.weight} ${o.size}px ${o.font}`;
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = o.halo;
    ctx.fillStyle = o.color;
    const grid = new Map();
    const boxes = [];
    const occupy = (box) => {
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
    const free = (box) => {
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
    const most = Math.max(12, Math.round((width * height) / 30000));
    const half = o.size / 2 + 2;
    let looked = 0;
    for (const [node, forced] of o.candidates()) {
      if (++looked > 4000 || this.drawn >= most) break;
      const data = r.getNodeDisplayData(node);
      if (!data || data.hidden || !data.label) continue;
      const size = r.scaleSize(data.size);
      // Candidates come by PageRank, and node size grows with it: the rest are smaller.
      if (!forced && size < o.threshold) break;
      const p = r.framedGraphToViewport(data);
      if (p.x < 0 || p.x > width || p.y < half || p.y > height - half) continue;
      const w = this.width(ctx, data.label);
      let x = p.x + size + 4;
      if (x + w > width - PAD) x = p.x - size - 4 - w;
      if (x < PAD) continue;
      const box = [x - 2, p.y - half, x + w + 2, p.y + half];
      if (!free(box)) continue;
      occupy(box);
      this.placed.push(box);
      ctx.strokeText(data.label, x, p.y);
      ctx.fillText(data.label, x, p.y);
      this.drawn += 1;
    }
  }
}
