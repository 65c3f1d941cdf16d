/**
 * Gives every cell of a `.table` a `data-label` naming its column (the text of its `<thead>` header),
 * so that below 640 px, where styles.css lays each row out as a small card, each value keeps its
 * name. One watcher for the whole document: pages write plain tables and get the phone layout.
 */
export function labelTableCells(root: HTMLElement): () => void {
  const label = () => {
    for (const table of root.querySelectorAll<HTMLTableElement>("table.table")) {
      const headers = [...(table.tHead?.rows[0]?.cells ?? [])].map((cell) =>
        // A visually hidden header (an actions column) labels nothing on screen.
        cell.querySelector(".sr-only") === null ? (cell.textContent ?? "").trim() : "",
      );
      for (const body of table.tBodies) {
        for (const row of body.rows) {
          let column = 0;
          for (const cell of row.cells) {
            const name = headers[column] ?? "";
            if (cell.getAttribute("data-label") !== name) cell.setAttribute("data-label", name);
            column += cell.colSpan;
          }
        }
      }
    }
  };
  label();
  const observer = new MutationObserver(label);
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  return () => observer.disconnect();
}
