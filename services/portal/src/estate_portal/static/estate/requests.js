// As-you-type suggestions on the request form's need page: after 300 ms without typing, ask the portal which
// systems the council already runs (and which past TDA decisions) look like the need, and show them in the
// page's polite live region. Without JavaScript the "Check for existing systems" button does the same.
const region = document.querySelector("[data-suggestions]");
const FIELD_IDS = ["title", "problem_statement", "user_need"]; // the need page's inputs, title first
const fields = FIELD_IDS.map((id) => document.getElementById(id)).filter((field) => field !== null);

const DELAY_MS = 300;
const MAX_TEXT = 2000; // keeps the address short; the words at the start say most about the need

let timer = 0;
let latest = 0;
let lastQuery = "";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render(candidates) {
  region.replaceChildren();
  if (candidates.length === 0) return;
  const panel = element("div", "estate-suggestions__panel");
  panel.append(
    element("h2", "govuk-heading-m", "The council may already have something that does this"),
    element(
      "p",
      "govuk-body",
      "Look at these before you ask for something new. If one of them does the job, talk to its owner: " +
        "the TDA will ask whether you considered re-using it.",
    ),
  );
  const list = element("ul", "govuk-list estate-suggestions__list");
  for (const candidate of candidates) {
    const item = element("li", "estate-suggestions__item");
    if (candidate.href && candidate.href.startsWith("/systems/")) {
      const link = element("a", "govuk-link govuk-!-font-weight-bold", candidate.name);
      link.href = candidate.href;
      item.append(link);
    } else {
      item.append(element("span", "govuk-!-font-weight-bold", candidate.name));
    }
    const reference =
      candidate.kind === "decision" ? `${candidate.reference}, an earlier TDA decision` : candidate.reference;
    item.append(" ", element("span", "govuk-body-s estate-suggestions__reference", reference));
    if (candidate.reasons && candidate.reasons.length) {
      const reasons = element("ul", "govuk-list govuk-list--bullet govuk-body-s");
      for (const reason of candidate.reasons) reasons.append(element("li", "", reason));
      item.append(reasons);
    }
    list.append(item);
  }
  panel.append(list);
  region.append(panel);
}

async function update() {
  const [title, ...need] = FIELD_IDS.map((id) => {
    const field = document.getElementById(id);
    return field ? field.value.trim() : "";
  });
  const text = need.join("\n").trim().slice(0, MAX_TEXT);
  const query = `${title}\n${text}`;
  if (query === lastQuery) return;
  lastQuery = query;
  if (title.length + text.length < 3) {
    render([]);
    return;
  }
  const ticket = ++latest;
  const url = new URL(region.dataset.suggestions, window.location.origin);
  url.searchParams.set("title", title.slice(0, 300));
  url.searchParams.set("text", text);
  try {
    const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!answer.ok) return;
    const body = await answer.json();
    if (ticket === latest) render(Array.isArray(body.candidates) ? body.candidates : []);
  } catch {
    // Offline or the service is down: the page's own button still checks.
  }
}

if (region && fields.length) {
  for (const field of fields) {
    field.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, DELAY_MS);
    });
  }
}
