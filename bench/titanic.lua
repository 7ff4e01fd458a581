-- One titanic passenger (third class, male, 22).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"pclass":3,"sex":"male","age":22,"sibsp":1,"parch":0,"fare":7.25,"embarked":"S"}'
