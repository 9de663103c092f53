// What a page's badge line says: its kind and how its sources back it, as the concept
// page of a wiki shows it ("CONCEPT · Cited by 1 source").
import type { Page } from "./backend";
import { plural } from "./dom";

export interface Summary {
  kind: string;
  citation: string;
  caveat: string | null;
}

export function summarize(page: Page): Summary {
  const kind = (page.kind ?? (page.is_source ? "source" : "page")).toUpperCase();
  if (page.is_source) {
    const supports = page.citations.cited_by.length;
    return { kind, citation: supports ? `Supports ${plural(supports, "page")}` : "Supports no page yet", caveat: null };
  }
  const sources = page.citations.sources;
  if (sources.length === 0) {
    return { kind, citation: "No source yet", caveat: null };
  }
  const citation = `Cited by ${plural(sources.length, "source")}`;
  if (sources.length === 1) {
    return {
      kind,
      citation,
      caveat: `Rests on a single source: only "${sources[0].title}" backs this page, so its ` +
        "claims are not corroborated by a second source.",
    };
  }
  return { kind, citation, caveat: null };
}
