// Package recipes holds ready workflows: for the tools people already run (Alertmanager,
// Grafana, Uptime Kuma), an approval card, and an approval that escalates to the approver's
// department leaders when it does not come in time (SPEC §10.2, §11). A recipe is data: a webhook
// trigger with the auth its tool can send, and WeCom-ready message bodies that keep one
// notification one message within WeCom's size limits. Install creates the workflow through the
// ordinary workflow creation path, so it is validated like any other.
package recipes
