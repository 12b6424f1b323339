// tracework: small progressive enhancements; every page works without this file.
"use strict";

function setupViewer(viewer) {
  const masks = new Map();
  viewer.querySelectorAll("img.mask").forEach((m) => masks.set(m.dataset.part, m));
  viewer.querySelectorAll("input[data-toggle]").forEach((box) => {
    box.addEventListener("change", () => {
      const mask = masks.get(box.dataset.toggle);
      if (mask) mask.hidden = !box.checked;
    });
  });
  const slider = viewer.querySelector("input[data-opacity]");
  if (slider) {
    const apply = () => masks.forEach((m) => { m.style.opacity = String(slider.value / 100); });
    slider.addEventListener("input", apply);
    apply();
  }
}

function typing(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function setupKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key;
    if (/^[1-9]$/.test(key)) {
      const boxes = document.querySelectorAll("input[data-toggle]");
      const box = boxes[Number(key) - 1];
      if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change")); }
      return;
    }
    const focus = document.querySelector(`[data-key-focus="${key}"]`);
    if (focus) { event.preventDefault(); focus.focus(); return; }
    const el = document.querySelector(`[data-key="${key}"]`);
    if (el) { event.preventDefault(); el.click(); }
  });
}

function setupReasons() {
  document.querySelectorAll("select[data-reason-code]").forEach((select) => {
    select.addEventListener("change", () => {
      const option = select.selectedOptions[0];
      const text = select.form.querySelector("textarea[name=reason_text]");
      if (option && option.dataset.text && text && !text.value) text.value = option.dataset.text;
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-viewer]").forEach(setupViewer);
  setupKeys();
  setupReasons();
});
