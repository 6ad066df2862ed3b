// Renders the API reference from this deployment's own document, with nothing fetched from any
// other host: no web fonts, no telemetry, no AI agent (each would call scalar.com).
Scalar.createApiReference('#app', {
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  hideClientButton: false,
  showOperationId: true,
  // Every operation on the page at once: nothing is hidden behind a click.
  defaultOpenAllTags: true,
});
