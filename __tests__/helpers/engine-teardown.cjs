// jest globalTeardown: stops the test engine if globalSetup started it (by the PID in its pidfile).
module.exports = async () => {
  if (globalThis.__GGHA_STOP_ENGINE__) {
    globalThis.__GGHA_STOP_ENGINE__();
    globalThis.__GGHA_STOP_ENGINE__ = undefined;
    console.log('test engine stopped');
  }
};
