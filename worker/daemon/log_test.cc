#include "worker/daemon/log.h"

#include <sstream>

#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

TEST(QuoteLogValueTest, PlainTokensStayUnquoted) {
  EXPECT_EQ(QuoteLogValue("trial_started"), "trial_started");
  EXPECT_EQ(QuoteLogValue("localhost:50051"), "localhost:50051");
}

TEST(QuoteLogValueTest, QuotesAndEscapes) {
  EXPECT_EQ(QuoteLogValue(""), "\"\"");
  EXPECT_EQ(QuoteLogValue("a b"), "\"a b\"");
  EXPECT_EQ(QuoteLogValue("k=v"), "\"k=v\"");
  EXPECT_EQ(QuoteLogValue("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
  EXPECT_EQ(QuoteLogValue(std::string("\x01", 1)), "\"\\x01\"");
}

TEST(FormatLogLineTest, OneLineWithFieldsInOrder) {
  // 2026-11-24T10:00:00.123Z
  std::string line = FormatLogLine(1795514400123, LogLevel::kWarning, "trial_failed",
                                   {{"study", "demo"}, {"trial", 3}, {"message", "exit 1"}});
  EXPECT_EQ(line,
            "ts=2026-11-24T10:00:00.123Z level=warn event=trial_failed study=demo trial=3 "
            "message=\"exit 1\"");
}

TEST(LogTest, WritesToSink) {
  std::ostringstream out;
  SetLogSinkForTest(&out);
  Log(LogLevel::kInfo, "registered", {{"worker_id", "w1"}, {"slots", 2}, {"x", 0.5}});
  SetLogSinkForTest(nullptr);
  std::string s = out.str();
  EXPECT_NE(s.find("level=info event=registered worker_id=w1 slots=2 x=0.5\n"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace peftsearch::daemon
