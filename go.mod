module github.com/xmodal/xmodal

go 1.26.8
