// Small DOM helpers: text only (never innerHTML with data), links that open notes.
export function el<K extends keyof HTMLElementTagNameMap>(
  parent: HTMLElement, tag: K, cls?: string, text?: string,
): HTMLElementTagNameMap[K] {
  const child = parent.ownerDocument.createElement(tag);
  if (cls) child.className = cls;
  if (text !== undefined) child.textContent = text;
  parent.appendChild(child);
  return child;
}

export function clear(node: HTMLElement): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** A clickable entry: a link-styled anchor that calls `open`. */
export function link(parent: HTMLElement, text: string, open: () => void, title?: string): HTMLAnchorElement {
  const a = el(parent, "a", "vaultsync-link internal-link", text);
  a.href = "#";
  if (title) a.title = title;
  a.addEventListener("click", (event) => {
    event.preventDefault();
    open();
  });
  return a;
}

export function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}
