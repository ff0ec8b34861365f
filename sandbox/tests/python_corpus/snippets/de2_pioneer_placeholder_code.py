# There is no need to write code
