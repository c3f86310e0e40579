/**
 * A deliberately broken agent build for pass 1's self-update check: it exits at start, before
 * anything else (the preflight a node runs must refuse it and keep the running agent).
 */
process.stderr.write("powernode-agent: this build is broken on purpose (smokes/pass1): exiting at start\n");
process.exit(70);
