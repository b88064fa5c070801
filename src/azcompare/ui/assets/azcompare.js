() => {
  // Clicking a [n] marker brings its source into view: open that answer's group, scroll, flash.
  // The chat sanitizes data-* attributes away, so the target comes from the link: #az-src-<turn>-<n>.
  document.addEventListener("click", (event) => {
    const cite = event.target.closest("a.az-cite");
    if (!cite) return;
    const match = /^#az-src-(\d+)-(\d+)$/.exec(cite.getAttribute("href") || "");
    if (!match) return;
    event.preventDefault();
    const group = document.getElementById(`az-turn-${match[1]}`);
    if (group) group.open = true;
    const source = document.getElementById(`az-src-${match[1]}-${match[2]}`);
    if (!source) return;
    document.querySelectorAll(".az-source.az-active").forEach((el) => el.classList.remove("az-active"));
    source.classList.add("az-active");
    source.scrollIntoView({ behavior: "smooth", block: "center" });
  }, true);
}
