""""Hộp thư thử nghiệm": the mail caught by the local sink, shown in demo mode only."""
