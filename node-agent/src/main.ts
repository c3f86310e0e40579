// Placeholder entry point until the agent lands: proves the image boots and runs Bun as PID 1.
console.log("powernode-agent: placeholder started");
setInterval(() => {}, 1 << 30);
