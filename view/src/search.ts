// The search box: pages by name and text as one types, arrows and Enter to pick one,
// "/" to get there.

import { h } from "./panel";
import { selectPage } from "./pages";
import { $, api } from "./state";
import type { SearchResult } from "./types";

type SearchHit = SearchResult["results"][number];

export function setupSearch(): void {
  const input = $("search") as HTMLInputElement;
  const list = $("search-results");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let results: SearchHit[] = [];
  let active = -1;
  let seq = 0;

  const close = () => {
    list.hidden = true;
    active = -1;
  };
  const choose = (i: number) => {
    const r = results[i];
    if (!r) return;
    close();
    input.value = r.title;
    input.blur();
    selectPage(r.path, { focus: true });
  };
  const highlight = () => {
    [...list.children].forEach((li, i) => li.classList.toggle("active", i === active));
  };
  const run = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) {
      close();
      return;
    }
    let data: { results: SearchHit[]; error?: string };
    try {
      data = await api().search(q);
    } catch (err) {
      data = { results: [], error: (err as Error).message };
    }
    if (mine !== seq) return;
    results = data.results;
    active = results.length ? 0 : -1;
    list.replaceChildren(...(results.length ? results.map((r, i) => {
      const snippet = h("div", { class: "r-snippet" });
      snippet.innerHTML = r.snippet; // the API escapes the text and adds only <mark>
      return h("li", { role: "option", dataset: { path: r.path }, onmousedown: (e: Event) => { e.preventDefault(); choose(i); } },
        h("span", { class: "r-title" }, r.title), h("span", { class: "r-path" }, r.path), snippet);
    }) : [h("li", { class: "empty" }, data.error ? `Search failed: ${data.error}` : "No pages found")]));
    list.hidden = false;
    highlight();
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!results.length) return;
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : results.length - 1)) % results.length;
      highlight();
    } else if (e.key === "Enter") {
      e.preventDefault();
      clearTimeout(timer);
      if (list.hidden || !results.length) run().then(() => choose(0));
      else choose(Math.max(0, active));
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    }
  });
}
