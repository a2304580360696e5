// Estate progressive enhancement: GOV.UK Frontend, and as-you-type duplicate suggestions (request form).
import { initAll } from "/static/govuk/govuk-frontend.min.js";
initAll();
