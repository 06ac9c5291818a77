// The calls n8n makes through its OpenAI Chat Model node, made here against the router.
//
// n8n's node is LangChain's ChatOpenAI pointed at the credential's base URL (with the "Use Responses API"
// option, `useResponsesApi`, on or off, and `supportsStrictToolCalling: false`); its model dropdown is the
// openai SDK's `models.list()`; its Tools Agent binds tools and loops until the model stops calling them.
//
//   node n8n_clients.mjs '{"scenario": "models", "baseURL": "..."}'
//   node n8n_clients.mjs '{"scenario": "agent", "baseURL": "...", "model": "...", "useResponsesApi": true,
//                          "stream": true}'
//
// Prints one JSON object on stdout: what the client got. Any failure exits non-zero with the error.

import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import OpenAI from "openai";

const API_KEY = "n8n-credential-any-string";

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather at a location.",
    parameters: {
      type: "object",
      properties: { location: { type: "string", description: "City and country" } },
      required: ["location"],
    },
  },
};

function getWeather(args) {
  return `It is sunny in ${args.location}.`;
}

async function listModels({ baseURL }) {
  const client = new OpenAI({ baseURL, apiKey: API_KEY, maxRetries: 0 });
  const page = await client.models.list();
  return { ids: page.data.map((model) => model.id) };
}

// One model turn, as the Tools Agent takes it: invoked, or streamed and the chunks concatenated.
async function turn(model, messages, stream) {
  if (!stream) {
    return await model.invoke(messages);
  }
  let reply;
  let chunks = 0;
  for await (const chunk of await model.stream(messages)) {
    reply = reply === undefined ? chunk : reply.concat(chunk);
    chunks += 1;
  }
  if (reply === undefined) {
    throw new Error("the stream ended without a single chunk");
  }
  reply.response_metadata = { ...reply.response_metadata, streamedChunks: chunks };
  return reply;
}

async function runAgent({ baseURL, model, useResponsesApi, stream, question }) {
  const llm = new ChatOpenAI({
    model,
    apiKey: API_KEY,
    configuration: { baseURL },
    maxRetries: 0,
    streaming: stream,
    // What n8n's node sets, for OpenAI-compatible servers that reject `strict: null`.
    supportsStrictToolCalling: false,
    ...(useResponsesApi ? { useResponsesApi: true } : {}),
  });
  const agent = llm.bindTools([WEATHER_TOOL]);
  const messages = [new HumanMessage(question)];
  const turns = [];
  for (let step = 0; step < 3; step += 1) {
    const reply = await turn(agent, messages, stream);
    messages.push(reply);
    turns.push({
      text: typeof reply.content === "string" ? reply.content : reply.text,
      toolCalls: reply.tool_calls.map((call) => ({ id: call.id, name: call.name, args: call.args })),
      invalidToolCalls: reply.invalid_tool_calls ?? [],
      streamedChunks: reply.response_metadata?.streamedChunks ?? null,
      responseId: reply.response_metadata?.id ?? null,
    });
    if (reply.tool_calls.length === 0) {
      return { turns, answer: turns.at(-1).text };
    }
    for (const call of reply.tool_calls) {
      messages.push(new ToolMessage({ content: getWeather(call.args), tool_call_id: call.id }));
    }
  }
  throw new Error(`the agent did not finish in three turns: ${JSON.stringify(turns)}`);
}

const SCENARIOS = { models: listModels, agent: runAgent };

async function main() {
  const options = JSON.parse(process.argv[2] ?? "{}");
  const scenario = SCENARIOS[options.scenario];
  if (scenario === undefined) {
    throw new Error(`unknown scenario ${JSON.stringify(options.scenario)}`);
  }
  process.stdout.write(JSON.stringify(await scenario(options)) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  if (error?.error) {
    process.stderr.write(`error body: ${JSON.stringify(error.error)}\n`);
  }
  process.exit(1);
});
