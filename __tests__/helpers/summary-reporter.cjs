// Ends the test output with one plain line CI can read: "N passed, N failed, N skipped".
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    const line = `${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`;
    // Jest's own summary is written after the reporters run: print ours at exit, so it is the last line.
    process.once('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
