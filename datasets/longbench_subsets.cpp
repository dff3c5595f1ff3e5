// The LongBench v1 subsets: one entry each. Prompt templates are byte for byte those of the official
// dataset2prompt.json (typos and trailing spaces included; a test compares them with ../shared's copy),
// max new tokens those of dataset2maxlen.json, metrics and rules those of ../shared/docs/longbench.md.
// Row counts: the published test sets (4,750 rows; THUDM/LongBench's data.zip and the dataset card's num_examples,
// e.g. 150 multifieldqa_en, 500 lcc; LongBench-E 224 qasper_e, 294 multi_news_e, 150 multifieldqa_en_e, else 300).
// Templates (c) THUDM/LongBench, MIT licence.
#include "datasets/subset.h"

namespace kvbench {

const std::vector<SubsetSpec>& longbench_subsets() {
  static const std::vector<SubsetSpec> kSubsets = {
    {"narrativeqa", "en", "single-doc QA", "qa_f1", 128, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "You are given a story, which can be either a novel or a movie script, and a question. Answer the question asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:", /*question_starts=*/"\n\nNow, answer the question b", /*rows=*/200, /*rows_e=*/0},
    {"qasper", "en", "single-doc QA", "qa_f1", 128, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:", /*question_starts=*/"\n\n Answer the question based", /*rows=*/200, /*rows_e=*/224},
    {"multifieldqa_en", "en", "single-doc QA", "qa_f1", 64, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", /*question_starts=*/"\n\nNow, answer the following ", /*rows=*/150, /*rows_e=*/150},
    {"multifieldqa_zh", "zh", "single-doc QA", "qa_f1_zh", 64, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "阅读以下文字并用中文简短回答：\n\n{context}\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，不要输出任何其他字词。\n\n问题：{input}\n回答：", /*question_starts=*/"\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，不", /*rows=*/200, /*rows_e=*/0},
    {"hotpotqa", "en", "multi-doc QA", "qa_f1", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", /*question_starts=*/"\n\nAnswer the question based ", /*rows=*/200, /*rows_e=*/300},
    {"2wikimqa", "en", "multi-doc QA", "qa_f1", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", /*question_starts=*/"\n\nAnswer the question based ", /*rows=*/200, /*rows_e=*/300},
    {"musique", "en", "multi-doc QA", "qa_f1", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", /*question_starts=*/"\n\nAnswer the question based ", /*rows=*/200, /*rows_e=*/0},
    {"dureader", "zh", "multi-doc QA", "rouge_zh", 128, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "请基于给定的文章回答下述问题。\n\n文章：{context}\n\n请基于上述文章回答下面的问题。\n\n问题：{input}\n回答：", /*question_starts=*/"\n\n请基于上述文章回答下面的问题。\n\n问题：{input}", /*rows=*/200, /*rows_e=*/0},
    {"gov_report", "en", "summarization", "rouge", 512, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:", /*question_starts=*/"\n\nNow, write a one-page summ", /*rows=*/200, /*rows_e=*/300},
    {"qmsum", "en", "summarization", "rouge", 512, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:", /*question_starts=*/"\n\nNow, answer the query base", /*rows=*/200, /*rows_e=*/0},
    {"multi_news", "en", "summarization", "rouge", 512, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:", /*question_starts=*/"\n\nNow, write a one-page summ", /*rows=*/200, /*rows_e=*/294},
    {"vcsum", "zh", "summarization", "rouge_zh", 512, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "下面有一段会议记录，请你阅读后，写一段总结，总结会议的内容。\n会议记录：\n{context}\n\n会议总结：", /*question_starts=*/"\n\n会议总结：", /*rows=*/200, /*rows_e=*/0},
    {"trec", "en", "few-shot", "classification", 64, /*chat=*/false, /*first_line=*/true, /*stop_at_newline=*/false, /*has_e=*/true,
     "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}", /*question_starts=*/"\n{input}", /*rows=*/200, /*rows_e=*/300},
    {"triviaqa", "en", "few-shot", "qa_f1", 32, /*chat=*/false, /*first_line=*/true, /*stop_at_newline=*/false, /*has_e=*/true,
     "Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}", /*question_starts=*/"\n\n{input}", /*rows=*/200, /*rows_e=*/300},
    {"samsum", "en", "few-shot", "rouge", 128, /*chat=*/false, /*first_line=*/true, /*stop_at_newline=*/true, /*has_e=*/true,
     "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}", /*question_starts=*/"\n\n{input}", /*rows=*/200, /*rows_e=*/300},
    {"lsht", "zh", "few-shot", "classification", 64, /*chat=*/false, /*first_line=*/true, /*stop_at_newline=*/false, /*has_e=*/false,
     "请判断给定新闻的类别，下面是一些例子。\n\n{context}\n{input}", /*question_starts=*/"\n{input}", /*rows=*/200, /*rows_e=*/0},
    {"passage_count", "en", "synthetic", "count", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ", /*question_starts=*/"\n\nPlease enter the final cou", /*rows=*/200, /*rows_e=*/300},
    {"passage_retrieval_en", "en", "synthetic", "retrieval", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: ", /*question_starts=*/"\n\nThe following is an abstra", /*rows=*/200, /*rows_e=*/300},
    {"passage_retrieval_zh", "zh", "synthetic", "retrieval_zh", 32, /*chat=*/true, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/false,
     "以下是若干段落文字，以及其中一个段落的摘要。请确定给定的摘要出自哪一段。\n\n{context}\n\n下面是一个摘要\n\n{input}\n\n请输入摘要所属段落的编号。答案格式必须是\"段落1\"，\"段落2\"等格式\n\n答案是：", /*question_starts=*/"\n\n下面是一个摘要\n\n{input}", /*rows=*/200, /*rows_e=*/0},
    {"lcc", "en", "code", "code_sim", 64, /*chat=*/false, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Please complete the code given below. \n{context}Next line of code:\n", /*question_starts=*/"Next line of code:\n", /*rows=*/500, /*rows_e=*/300},
    {"repobench-p", "en", "code", "code_sim", 64, /*chat=*/false, /*first_line=*/false, /*stop_at_newline=*/false, /*has_e=*/true,
     "Please complete the code given below. \n{context}{input}Next line of code:\n", /*question_starts=*/"{input}", /*rows=*/500, /*rows_e=*/300},
  };
  return kSubsets;
}

}  // namespace kvbench
