// The dashboard page: polls /api/state and lays it out. Every number arrives in human
// units from the server (the *_text fields); this script formats nothing itself.
"use strict";

const DEFAULT_REFRESH_SECONDS = 1;

function el(name, options = {}, ...children) {
  const element = document.createElement(name);
  if (options.className) element.className = options.className;
  if (options.title) element.title = options.title;
  for (const [key, value] of Object.entries(options.data || {})) {
    element.dataset[key] = String(value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const cell = (text, className) => el("td", {className}, text);
const number = (text) => el("td", {className: "number"}, text);
const code = (text, className) => el("code", {className}, text);
const status = (word, text) => el("span", {className: `status-${word}`}, text || word);

function fillTable(id, rows, emptyText, columns) {
  const body = document.querySelector(`#${id} tbody`);
  if (rows.length === 0) {
    const row = el("tr", {className: "empty"}, el("td", {}, emptyText));
    row.firstChild.colSpan = columns;
    body.replaceChildren(row);
  } else {
    body.replaceChildren(...rows);
  }
}

function fact(list, term, ...description) {
  list.append(el("dt", {}, term), el("dd", {}, ...description));
}

function showDeployment(state) {
  const d = state.deployment;
  document.getElementById("deployment").replaceChildren(
    `network ${d.network} (chain id ${d.chain_id}), coordinator `, code(d.coordinator, "address"),
    `, quorum ${state.quorum} of ${state.oracles.length} oracles`);
  document.getElementById("clock").textContent =
    `chain clock ${state.chain.time_text}, block ${state.chain.block}`;
}

function showRound(state) {
  const round = state.round;
  const facts = document.getElementById("round-facts");
  facts.replaceChildren();
  if (round === null) {
    document.getElementById("round-number").textContent = "–";
    document.getElementById("round-state").textContent = "training has not started";
    fact(facts, "next step", "the admin opens round 1 with `fedledger admin start`");
    return;
  }
  document.getElementById("round-number").textContent = round.round;
  const stateElement = document.getElementById("round-state");
  stateElement.replaceChildren(status(round.state, round.state_text));
  stateElement.dataset.state = round.state;
  fact(facts, "opened", round.opened_text);
  fact(facts, "deadline", round.deadline_text);
  if (round.closed_text) fact(facts, "closed", round.closed_text);
  if (round.voting_ends_text) fact(facts, "voting ends", round.voting_ends_text);
  fact(facts, "accepted so far", round.accepted);
  if (round.state === "open") {
    fact(facts, "can close", round.can_close ? "yes: `fedledger round close`" : "not yet");
  }
  if (round.state === "closed") {
    fact(facts, "aggregation", round.aggregation_text);
  }
  fact(facts, "trains from", code(round.global_model, "hash"));
}

function votesList(submission) {
  const list = el("ul", {className: "votes"});
  if (submission.votes.length === 0) list.append(el("li", {}, "no vote yet"));
  for (const vote of submission.votes) {
    list.append(el("li", {title: vote.oracle},
      `oracle ${vote.oracle_index} `, status(vote.accept ? "accepted" : "rejected",
        vote.accept ? "accept" : "reject"),
      ` · ${vote.score_text}`, vote.accept ? "" : ` · ${vote.reason_text}`));
  }
  return list;
}

function showSubmissions(state) {
  const round = state.round;
  const submissions = round ? round.submissions : [];
  document.getElementById("submissions-hint").textContent = round
    ? `round ${round.round}: ${submissions.length} submitted; an update is settled by ` +
      `${state.quorum} agreeing votes`
    : "";
  const rows = submissions.map((s) => el("tr", {data: {participant: s.participant, status: s.status}},
    el("td", {}, code(s.participant, "address")),
    el("td", {}, status(s.status, s.status_text)),
    el("td", {}, votesList(s)),
    number(s.score_text),
    el("td", {className: "verdict"}, s.verdict_text),
    number(s.reward_text)));
  fillTable("submissions", rows, "no submissions yet", 6);
}

function showChart(state) {
  const hint = document.getElementById("chart-hint");
  const points = state.rounds
    .filter((r) => r.state === "finalized" && r.accuracy !== null)
    .map((r) => ({round: r.round, percent: 100 * r.accuracy, label: r.accuracy_text}));
  if (state.evaluation === null) {
    hint.textContent = "start the dashboard with --eval FILE.npz to chart the accuracy of " +
      "every round's global model";
  } else {
    hint.textContent = `test accuracy of the model each round produced, on ` +
      `${state.evaluation.samples_text} of ${state.evaluation.file}`;
  }
  drawAccuracyChart(document.getElementById("chart"), points);
}

function showRounds(state) {
  const rows = [...state.rounds].reverse().map((r) => el("tr", {data: {round: r.round, state: r.state}},
    number(r.round),
    el("td", {title: r.skip_reason_text || ""}, status(r.state, r.state_text)),
    number(r.accepted), number(r.rejected), cell(r.unsettled_text),
    number(r.tokens_minted_text), number(r.gas_text),
    number(r.duration_text), number(r.accuracy_text),
    el("td", {}, r.produced_model ? code(r.produced_model, "hash") : (r.skip_reason_text || ""))));
  fillTable("rounds", rows, "no round yet", 10);
}

function showParticipants(state) {
  const rows = state.participants.map((p) => el("tr", {data: {address: p.address}},
    el("td", {}, code(p.address, "address")),
    el("td", {}, status(p.standing)),
    number(p.accepted), number(p.rejected), number(p.strikes), number(p.tokens_text)));
  fillTable("participants", rows, "no participant registered", 6);
}

function showOracles(state) {
  const round = state.round;
  document.getElementById("oracles-hint").textContent = round
    ? `round ${round.round}: votes each oracle cast on its ${round.submissions.length} submission(s)`
    : "";
  const rows = state.oracles.map((o) => el("tr", {data: {address: o.address}},
    number(o.index),
    el("td", {}, code(o.address, "address")),
    number(o.votes_this_round),
    el("td", {}, o.last_vote_text),
    el("td", {}, o.proposed_this_round ? "yes" : "no"),
    el("td", {}, status(o.liveness, o.liveness_text))));
  fillTable("oracles", rows, "no oracle registered", 6);
}

function showProblem(message) {
  const problem = document.getElementById("problem");
  problem.hidden = message === null;
  problem.textContent = message || "";
}

function show(state) {
  showDeployment(state);
  showRound(state);
  showSubmissions(state);
  showChart(state);
  showRounds(state);
  showParticipants(state);
  showOracles(state);
  document.getElementById("footer").textContent =
    `read from the chain at ${new Date().toLocaleTimeString()}; refreshes every ` +
    `${state.refresh_seconds} s. JSON: /api/state, /api/rounds, /api/participants, /api/oracles`;
  document.body.dataset.block = state.chain.block;
}

async function poll() {
  let wait = DEFAULT_REFRESH_SECONDS;
  try {
    const response = await fetch("/api/state", {cache: "no-store"});
    const payload = await response.json();
    if (!response.ok) {
      showProblem(payload.error || `the dashboard server answered ${response.status}`);
    } else {
      show(payload);
      showProblem(null);
      wait = payload.refresh_seconds;
    }
  } catch (error) {
    showProblem("cannot reach the dashboard server (is `fedledger dashboard` still running?)");
  }
  setTimeout(poll, wait * 1000);
}

document.addEventListener("DOMContentLoaded", poll);
