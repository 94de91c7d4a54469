// The course site: the notebook download button saves the .ipynb instead of showing its JSON.
document.addEventListener("DOMContentLoaded", () => {
  for (const a of document.querySelectorAll('a.btn-download-source-button[href$=".ipynb"]')) {
    a.setAttribute("download", a.getAttribute("href").split("/").pop());
  }
});
