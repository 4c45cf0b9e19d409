// The issue panel and the admin page: each asks the remote (Tandem) what to show.
// invokeRemote sends a Forge Invocation Token (and the app system token) with the call.
import { invokeRemote, view } from "@forge/bridge";

const status = document.getElementById("status");

async function show() {
  const context = await view.getContext();
  const issueKey = context.extension && context.extension.issue && context.extension.issue.key;
  const path = issueKey
    ? `/forge/issue-panel?issueKey=${encodeURIComponent(issueKey)}`
    : "/forge/admin";
  const answer = await invokeRemote({ path, method: "GET" });
  status.textContent = answer.body && answer.body.page
    ? `Tandem ${answer.body.page}: ${answer.body.status}`
    : "Tandem could not be reached.";
}

show().catch(() => {
  status.textContent = "Tandem could not be reached.";
});
