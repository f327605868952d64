#include "controller/auth.h"

#include <gtest/gtest.h>

#include <set>

namespace peftsearch::controller {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::TrialStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    AuthOptions options;
    options.now_ms = [this] { return now_; };
    auth_ = std::make_unique<Authorizer>(store_.get(), options);
  }

  // Creates a token with `role`; returns the "Bearer ..." header value.
  std::string Bearer(const std::string& name, const std::string& role) {
    const std::string token = NewBearerToken();
    EXPECT_TRUE(store_->CreateToken(name, role, TokenSha256(token), kNow).ok());
    now_ += 10000;  // past the cache
    return "Bearer " + token;
  }

  int64_t now_ = kNow;
  std::unique_ptr<storage::TrialStore> store_;
  std::unique_ptr<Authorizer> auth_;
};

TEST(TokenTest, RandomUrlSafeAndHashedHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = NewBearerToken();
    ASSERT_EQ(t.rfind("psk_", 0), 0u);
    EXPECT_EQ(t.size(), 4u + 43u);  // 256 bits in unpadded base64url
    EXPECT_EQ(t.find_first_not_of("psk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_",
                                  4),
              std::string::npos);
    EXPECT_TRUE(seen.insert(t).second);
  }
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(TokenSha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RoleTest, ParseNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseRole("worker"), Role::kWorker);
  EXPECT_EQ(ParseRole("root").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuthTest, OffWithoutTokensEveryoneIsAnonymousAdmin) {
  EXPECT_FALSE(auth_->Enabled());
  auto p = auth_->Authorize(std::nullopt, "CreateStudy", false);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->anonymous);
}

TEST_F(AuthTest, RequireAuthWithoutTokensRefusesEverything) {
  AuthOptions options;
  options.require_auth = true;
  Authorizer strict(store_.get(), options);
  EXPECT_EQ(strict.Authorize(std::nullopt, "GetStudy", false).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, MissingMalformedUnknownAndRevokedTokensAreUnauthenticated) {
  const std::string admin = Bearer("root", "admin");
  EXPECT_TRUE(auth_->Enabled());
  EXPECT_EQ(auth_->Authorize(std::nullopt, "GetStudy", false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth_->Authorize("Basic abc", "GetStudy", false).status().code(),
            absl::StatusCode::kUnauthenticated);
  auto wrong = auth_->Authorize("Bearer psk_not-a-token", "GetStudy", false);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message().find("psk_not"), std::string::npos) << "token leaked";
  ASSERT_TRUE(auth_->Authorize(admin, "GetStudy", false).ok());
  ASSERT_TRUE(auth_->Authorize("bearer  " + admin.substr(7), "GetStudy", false).ok());
  ASSERT_TRUE(store_->RevokeToken("root", kNow).ok());
  now_ += 10000;
  EXPECT_EQ(auth_->Authorize(admin, "GetStudy", false).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, RoleTable) {
  const std::string admin = Bearer("a", "admin"), submit = Bearer("s", "submit"),
                    read = Bearer("r", "read"), worker = Bearer("w", "worker");
  struct Case {
    const char* method;
    bool admin, submit, read, worker;
  } cases[] = {
      {"CreateStudy", true, true, false, false},  {"CancelStudy", true, true, false, false},
      {"AskTrial", true, true, false, false},     {"TellTrial", true, true, false, false},
      {"GetStudy", true, true, true, false},      {"ListStudies", true, true, true, false},
      {"ListTrials", true, true, true, false},    {"GetTrial", true, true, true, false},
      {"BestTrials", true, true, true, false},    {"WatchStudy", true, true, true, false},
      {"ListWorkers", true, true, true, false},   {"RegisterWorker", true, false, false, true},
      {"Heartbeat", true, false, false, true},    {"AcquireTrial", true, false, false, true},
      {"ReportProgress", true, false, false, true}, {"CompleteTrial", true, false, false, true},
      {"FailTrial", true, false, false, true},    {"SomethingNew", true, false, false, false},
  };
  for (const Case& c : cases) {
    for (auto [header, allowed] : {std::pair{admin, c.admin}, std::pair{submit, c.submit},
                                   std::pair{read, c.read}, std::pair{worker, c.worker}}) {
      auto p = auth_->Authorize(header, c.method, false);
      if (allowed) {
        EXPECT_TRUE(p.ok()) << c.method << ": " << p.status();
      } else {
        EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied) << c.method;
      }
    }
  }
}

TEST_F(AuthTest, WorkerTokenTouchesOnlyItsOwnWorkersAndLeases) {
  const std::string w1 = Bearer("w1", "worker"), w2 = Bearer("w2", "worker");
  auto p1 = auth_->Authorize(w1, "RegisterWorker", false);
  auto p2 = auth_->Authorize(w2, "RegisterWorker", false);
  ASSERT_TRUE(p1.ok() && p2.ok());
  ASSERT_TRUE(auth_->BindWorker(*p1, "worker-1").ok());
  ASSERT_TRUE(auth_->BindWorker(*p2, "worker-2").ok());
  EXPECT_TRUE(auth_->CheckWorker(*p1, "worker-1").ok());
  EXPECT_EQ(auth_->CheckWorker(*p2, "worker-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->CheckReregister(*p2, "worker-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(auth_->CheckReregister(*p2, "never-bound").ok());

  auto study = store_->CreateStudy("s", "{}", kNow);
  ASSERT_TRUE(study.ok());
  ASSERT_TRUE(store_->CreateTrial(study->id, 0, "{}", storage::TrialState::kWaiting, kNow).ok());
  auto leased = store_->LeaseNextWaiting({}, "worker-1", "lease-1", kNow + 60000, kNow);
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_TRUE(auth_->CheckLease(*p1, "lease-1").ok());
  EXPECT_EQ(auth_->CheckLease(*p2, "lease-1").code(), absl::StatusCode::kPermissionDenied);
  // A stale lease is the engine's to refuse (FAILED_PRECONDITION).
  EXPECT_TRUE(auth_->CheckLease(*p2, "no-such-lease").ok());

  // The binding survives a new Authorizer (a controller restart).
  Authorizer restarted(store_.get(), AuthOptions{});
  EXPECT_EQ(restarted.CheckLease(*p2, "lease-1").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(restarted.CheckLease(*p1, "lease-1").ok());
}

TEST_F(AuthTest, WorkerCallsNeedAClientCertificateWhenConfigured) {
  AuthOptions options;
  options.require_worker_client_cert = true;
  Authorizer mtls(store_.get(), options);
  EXPECT_EQ(mtls.Authorize(std::nullopt, "Heartbeat", false).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(mtls.Authorize(std::nullopt, "Heartbeat", true).ok());
  EXPECT_TRUE(mtls.Authorize(std::nullopt, "GetStudy", false).ok());
}

}  // namespace
}  // namespace peftsearch::controller
