#include "worker/data/vtab_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/data/normalize.h"
#include "worker/data/resize.h"
#include "worker/data/test_images.h"

namespace peftsearch::data {
namespace {

using ::testing::HasSubstr;

// Writes <root>/<task> in the NOAH layout: `n_train` and `n_val` PNG images
// with labels i % num_labels, train800val200 as their union (own copies, as
// NOAH writes them), and a test split of `n_test`.
void WriteTask(const std::string& root, const std::string& task, int n_train,
               int n_val, int n_test, int num_labels) {
  const std::string dir = root + "/" + task;
  struct SplitSpec {
    const char* name;
    int n;
    int seed_base;
  };
  const SplitSpec specs[] = {{"train800", n_train, 0},
                             {"val200", n_val, 1000},
                             {"test", n_test, 2000}};
  std::string union_list;
  int union_i = 0;
  ASSERT_TRUE(testing::MakeDirs(dir + "/images/train800val200"));
  for (const SplitSpec& s : specs) {
    ASSERT_TRUE(testing::MakeDirs(absl::StrCat(dir, "/images/", s.name)));
    std::string list;
    for (int i = 0; i < s.n; ++i) {
      const Image img = testing::PatternImage(10 + i % 3, 8, s.seed_base + i);
      const std::string rel = absl::StrCat("images/", s.name, "/", i, ".png");
      ASSERT_TRUE(testing::WritePng(dir + "/" + rel, img, i % 4 == 3 ? 1 : 3));
      const int label = (s.seed_base + i) % num_labels;
      absl::StrAppend(&list, rel, " ", label, "\n");
      if (s.seed_base < 2000) {
        const std::string urel = absl::StrCat("images/train800val200/", union_i++, ".png");
        ASSERT_TRUE(testing::WritePng(dir + "/" + urel, img, i % 4 == 3 ? 1 : 3));
        absl::StrAppend(&union_list, urel, " ", label, "\n");
      }
    }
    ASSERT_TRUE(testing::WriteText(absl::StrCat(dir, "/", s.name, ".txt"), list));
  }
  ASSERT_TRUE(testing::WriteText(dir + "/train800val200.txt", union_list));
}

class VtabTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshDir("vtab_task_test");
    WriteTask(root_, "toy", 6, 3, 4, 5);
  }
  VtabTaskOptions Opts(int size = 12) {
    VtabTaskOptions o;
    o.image_size = size;
    return o;
  }
  std::string root_;
};

TEST_F(VtabTaskTest, LoadsSplitAsNormalisedTensor) {
  auto task = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ((*task)->info().name, "toy");
  EXPECT_EQ((*task)->info().num_classes, 5);  // labels 0..4 seen in the lists
  EXPECT_EQ((*task)->info().num_classes_source, "lists");

  auto train = (*task)->Load(Split::kTrain800);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.sizes(), (std::vector<int64_t>{6, 3, 12, 12}));
  EXPECT_EQ(train->images.dtype(), torch::kFloat32);
  EXPECT_EQ(train->labels.dtype(), torch::kInt64);
  EXPECT_EQ(train->labels[4].item<int64_t>(), 4);

  // Image 1 recomputed by hand: decode -> resize -> normalise.
  const Image src = testing::PatternImage(11, 8, 1);
  std::vector<float> want(3 * 12 * 12);
  NormalizeImagenet(ResizeBicubicPil(src, 12, 12), want.data());
  const float* got = train->images[1].contiguous().data_ptr<float>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << i;

  auto both = (*task)->Load(Split::kTrain800Val200);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->size(), 9);
  EXPECT_TRUE(torch::equal(both->images.narrow(0, 0, 6), train->images));
}

TEST_F(VtabTaskTest, SecondLoadSharesStorage) {
  auto task = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(task.ok());
  auto a = (*task)->Load(Split::kVal200);
  auto b = (*task)->Load(Split::kVal200);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->images.data_ptr(), b->images.data_ptr());
}

TEST_F(VtabTaskTest, ParallelDecodeMatchesSerial) {
  VtabTaskOptions o = Opts();
  o.num_threads = 3;
  auto par = VtabTask::Open(root_, "toy", o);
  auto ser = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(par.ok() && ser.ok());
  auto a = (*par)->Load(Split::kTest);
  auto b = (*ser)->Load(Split::kTest);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(torch::equal(a->images, b->images));
  EXPECT_TRUE(torch::equal(a->labels, b->labels));
}

TEST_F(VtabTaskTest, KnownVtabNameTakesTableClassCount) {
  WriteTask(root_, "dsprites_loc", 2, 1, 1, 3);
  auto task = VtabTask::Open(root_, "dsprites_loc", Opts());
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ((*task)->info().num_classes, 16);
  EXPECT_EQ((*task)->info().num_classes_source, "vtab_table");
}

TEST_F(VtabTaskTest, LabelBeyondNumClassesNamesListLine) {
  VtabTaskOptions o = Opts();
  o.num_classes = 3;  // labels go up to 4
  auto task = VtabTask::Open(root_, "toy", o);
  EXPECT_EQ(task.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(task.status().message(), HasSubstr("train800.txt:4: label 3"));
}

TEST_F(VtabTaskTest, MissingRootOrTaskIsNotFound) {
  auto no_root = VtabTask::Open(root_ + "/nowhere", "toy", Opts());
  EXPECT_EQ(no_root.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_root.status().message(), HasSubstr(root_ + "/nowhere"));
  auto no_task = VtabTask::Open(root_, "cifar", Opts());
  EXPECT_EQ(no_task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_task.status().message(), HasSubstr(root_ + "/cifar"));
}

TEST_F(VtabTaskTest, NoListsIsNotFound) {
  ASSERT_TRUE(testing::MakeDirs(root_ + "/empty"));
  auto task = VtabTask::Open(root_, "empty", Opts());
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(task.status().message(), HasSubstr("no split list"));
}

TEST_F(VtabTaskTest, MissingSplitListIsNotFoundNamingIt) {
  ASSERT_EQ(std::remove((root_ + "/toy/test.txt").c_str()), 0);
  auto task = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(task.ok());
  EXPECT_FALSE((*task)->HasSplit(Split::kTest));
  auto test = (*task)->Load(Split::kTest);
  EXPECT_EQ(test.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(test.status().message(), HasSubstr(root_ + "/toy/test.txt"));
}

TEST_F(VtabTaskTest, MissingImageNamesListLineAndImage) {
  ASSERT_EQ(std::remove((root_ + "/toy/images/val200/2.png").c_str()), 0);
  auto task = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(task.ok());
  auto val = (*task)->Load(Split::kVal200);
  EXPECT_EQ(val.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(val.status().message(),
              HasSubstr(root_ + "/toy/val200.txt:3: " + root_ + "/toy/images/val200/2.png"));
}

TEST_F(VtabTaskTest, CorruptImageIsDataLossNamingListLine) {
  ASSERT_TRUE(testing::WriteText(root_ + "/toy/images/test/1.png", "garbage"));
  auto task = VtabTask::Open(root_, "toy", Opts());
  ASSERT_TRUE(task.ok());
  auto test = (*task)->Load(Split::kTest);
  EXPECT_EQ(test.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(test.status().message(), HasSubstr("test.txt:2: "));
  EXPECT_THAT(test.status().message(), HasSubstr("images/test/1.png"));
}

TEST_F(VtabTaskTest, BadOptionsAreInvalidArgument) {
  EXPECT_EQ(VtabTask::Open(root_, "toy", Opts(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  VtabTaskOptions o = Opts();
  o.num_threads = 0;
  EXPECT_EQ(VtabTask::Open(root_, "toy", o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VtabTask::Open(root_, "../x", Opts()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VtabTaskTest, CacheFileIsReusedAndInvalidatedByImageChange) {
  VtabTaskOptions o = Opts();
  o.cache_dir = root_ + "/cache/sub";
  torch::Tensor original;
  {
    auto task = VtabTask::Open(root_, "toy", o);
    ASSERT_TRUE(task.ok());
    auto val = (*task)->Load(Split::kVal200);
    ASSERT_TRUE(val.ok()) << val.status();
    original = val->images.clone();
  }
  // Exactly one cache file; poison its pixel data (not the header) to prove
  // that the next load reads it instead of decoding.
  std::string cache_file;
  {
    FILE* ls = popen(("ls " + o.cache_dir).c_str(), "r");
    char buf[512];
    while (std::fgets(buf, sizeof(buf), ls)) cache_file = buf;
    pclose(ls);
    ASSERT_FALSE(cache_file.empty());
    cache_file = o.cache_dir + "/" + cache_file.substr(0, cache_file.size() - 1);
    EXPECT_THAT(cache_file, HasSubstr("toy.val200.12."));
    FILE* f = std::fopen(cache_file.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    const float poison = 42.0f;
    const long header = 8 + 8 + 8 + 4 + 3 * 8;  // magic fp n s labels[3]
    std::fseek(f, header, SEEK_SET);
    std::fwrite(&poison, sizeof(poison), 1, f);
    std::fclose(f);
  }
  {
    auto task = VtabTask::Open(root_, "toy", o);
    ASSERT_TRUE(task.ok());
    auto val = (*task)->Load(Split::kVal200);
    ASSERT_TRUE(val.ok());
    EXPECT_EQ(val->images.flatten()[0].item<float>(), 42.0f);
  }
  // A changed image (new mtime) makes the cache stale: decoded afresh.
  struct utimbuf times = {1000000000, 1000000000};
  ASSERT_EQ(utime((root_ + "/toy/images/val200/0.png").c_str(), &times), 0);
  {
    auto task = VtabTask::Open(root_, "toy", o);
    ASSERT_TRUE(task.ok());
    auto val = (*task)->Load(Split::kVal200);
    ASSERT_TRUE(val.ok());
    EXPECT_TRUE(torch::equal(val->images, original));
  }
}

}  // namespace
}  // namespace peftsearch::data
